/* The benchmark guest (scripts/bench-vmm.mjs): the smallest guest that both
   vmstep-vmm and QEMU's microvm can boot from the same file. Its first
   instructions print "R\n" on the serial port (the host times the byte), then
   it triple-faults, which ends the VM in both (QEMU with -no-reboot).
   vmstep-vmm enters at the ELF entry in 64-bit mode; QEMU enters through the
   PVH note in 32-bit protected mode. */
	.section .note.Xen, "a"
	.balign 4
	.long 4, 4, 18          /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long entry32
	.text
	.code64
	.globl _start
_start:                     /* 64-bit boot protocol entry (vmstep-vmm) */
	mov $0x3f8, %dx
	mov $'R', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	lidt empty_idt
	ud2
	.code32
entry32:                    /* PVH entry, 32-bit protected mode (QEMU) */
	mov $0x3f8, %dx
	mov $'R', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	lidt empty_idt
	ud2
	.data
	.balign 8
empty_idt:
	.word 0
	.long 0, 0
