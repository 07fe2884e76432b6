/* Entry from the VMM in 64-bit mode (the Linux 64-bit boot protocol):
   RSI = boot_params. Also the interrupt stubs and the AP trampoline. */
	.section .text.start, "ax"
	.globl _start
	.code64
_start:
	cli
	lea stack_top(%rip), %rsp
	mov %rsi, %rdi
	call guest_main
	/* guest_main returned: power off through the i8042 reset line. */
	mov $0xfe, %al
	out %al, $0x64
1:	hlt
	jmp 1b

/* Interrupt stubs: vector number in %rdi, then the C handler. */
	.text
	.macro STUB vec
	.globl isr_\vec
isr_\vec:
	push %rax; push %rcx; push %rdx; push %rsi; push %rdi; push %r8; push %r9; push %r10; push %r11
	mov $\vec, %edi
	call interrupt_handler
	pop %r11; pop %r10; pop %r9; pop %r8; pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax
	iretq
	.endm
	.irp v, 0,1,2,3,4,5,6,7,8,10,11,12,13,14,16,17,18,19,32,48,49,255
	STUB \v
	.endr

/* Secondary vCPUs start here in real mode (SIPI vector 6 = 0x6000). They
   switch straight to long mode using the VMM's boot GDT (0x500) and page
   tables (0x9000), take a stack, and call ap_main. */
	.section .trampoline, "ax"
	.code16
	.globl trampoline_entry
trampoline_entry:
	cli
	xor %ax, %ax
	mov %ax, %ds
	lgdtl gdt_pointer
	mov %cr4, %eax
	or $0x20, %eax            /* PAE */
	mov %eax, %cr4
	mov $0x9000, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx     /* EFER */
	rdmsr
	or $0x100, %eax           /* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax      /* PG | PE */
	mov %eax, %cr0
	ljmpl $0x10, $ap_long
	.code64
ap_long:
	mov $0x18, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $4096, %eax
	lock xadd %eax, ap_stack_next
	mov %eax, %esp
	add $4096, %rsp
	mov $ap_main, %rax
	call *%rax
2:	cli
	hlt
	jmp 2b
	.balign 8
gdt_pointer:
	.word 0x27
	.long 0x500
	.globl ap_stack_next
ap_stack_next:
	.long 0x70000             /* APs' stacks: 4 KiB each from here up */

	.bss
	.balign 16
	.space 16384
stack_top:
