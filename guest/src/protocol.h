/*
 * The host-guest protocol's numbers, as docs/protocol.md specifies them.
 * test/unit/protocol.test.ts reads this file and checks that
 * src/session/protocol.ts agrees with every value, so the two sides cannot
 * drift apart silently.
 */
#ifndef VMSTEP_PROTOCOL_H
#define VMSTEP_PROTOCOL_H

#define PROTO_VERSION 3
#define PROTO_MAGIC "VMSTEP"
#define PROTO_MAGIC_LEN 6
#define PROTO_HEADER_LEN 5
#define PROTO_MAX_PAYLOAD (1u << 20)
#define PROTO_MAX_AGENT 256
/* The most STDIN bytes the host may have sent and the guest not yet acknowledged. */
#define PROTO_STDIN_WINDOW (1u << 20)

/* The host listens on <vsockUdsPath>_1024; guest init connects to CID 2. */
#define PROTO_VSOCK_HOST_CID 2
#define PROTO_VSOCK_PORT 1024
/* Service mode: guest init listens on this vsock port for session connections (the host's choice, sent in SERVE). */
#define PROTO_EXEC_VSOCK_PORT 1025
/* Links: guest init carries a linked connection out to the host on this vsock port (the host listens on <vsockUdsPath>_1026). */
#define PROTO_LINK_VSOCK_PORT 1026
/* The longest entry path PUT, GET and LIST carry (relative, bytes). */
#define PROTO_MAX_ENTRY_PATH 4095

/* Message types */
#define MSG_HELLO 0x01
#define MSG_RUN 0x02
#define MSG_SIGNAL 0x03
#define MSG_STDIN 0x04
#define MSG_STDIN_END 0x05
#define MSG_SERVE 0x06
#define MSG_POWEROFF 0x07
#define MSG_PUT 0x08
#define MSG_GET 0x09
#define MSG_LIST 0x0A
#define MSG_PUT_END 0x0B
#define MSG_FORWARD 0x0C
#define MSG_LINK 0x0D
#define MSG_STARTED 0x10
#define MSG_STDOUT 0x11
#define MSG_STDERR 0x12
#define MSG_EXIT 0x13
#define MSG_FILE 0x14
#define MSG_FILE_DATA 0x15
#define MSG_FILE_END 0x16
#define MSG_OUTPUT_ISSUE 0x17
#define MSG_TIMINGS 0x18
#define MSG_STDIN_ACK 0x19
#define MSG_READY 0x1A
#define MSG_DONE 0x1B
#define MSG_ENTRY 0x1C
#define MSG_DIAL 0x1D
#define MSG_ERROR 0x1F
/* A relayed TCP connection's stream, either direction (after FORWARD or DIAL and its DONE). */
#define MSG_STREAM_DATA 0x20
#define MSG_STREAM_FIN 0x21
#define MSG_STREAM_RESET 0x22

/* RUN fields */
#define RUN_ARG 1
#define RUN_ENV 2
#define RUN_WORKDIR 3
#define RUN_USER 4
#define RUN_HOSTNAME 5
#define RUN_OUTPUT 6
#define RUN_MAX_FILE_BYTES 7
#define RUN_MAX_FILES 8
#define RUN_PRIVILEGED 9
#define RUN_VOLUME_DEVICE 10
#define RUN_VOLUME 11
#define RUN_STDIN 12

/* SERVE fields: the same tags as RUN where they share a name, plus the session port */
#define SERVE_ARG 1
#define SERVE_ENV 2
#define SERVE_WORKDIR 3
#define SERVE_USER 4
#define SERVE_HOSTNAME 5
#define SERVE_PRIVILEGED 9
#define SERVE_VOLUME_DEVICE 10
#define SERVE_VOLUME 11
#define SERVE_EXEC_PORT 13

/* READY fields */
#define READY_READY_NS 1

/* POWEROFF fields */
#define POWEROFF_GRACE_MS 1

/* PUT fields */
#define PUT_PATH 1
#define PUT_USER 4

/* GET fields */
#define GET_PATH 1

/* LIST fields */
#define LIST_PATH 1

/* DONE fields */
#define DONE_ERROR 1
#define DONE_ENTRIES 2

/* FORWARD fields */
#define FORWARD_PORT 1

/* LINK fields */
#define LINK_NAME 1
#define LINK_ADDRESS 2
#define LINK_PORT 3

/* DIAL fields */
#define DIAL_NAME 1
#define DIAL_PORT 2

/* ENTRY fields */
#define ENTRY_PATH 1
#define ENTRY_TYPE 2
#define ENTRY_MODE 3
#define ENTRY_SIZE 4
#define ENTRY_LINK_TARGET 5
#define ENTRY_MTIME_NS 6

/* SIGNAL fields */
#define SIGNAL_SIGNAL 1

/* STARTED fields */
#define STARTED_PID 1
#define STARTED_COMMAND_START_NS 2

/* EXIT fields */
#define EXIT_CODE 1
#define EXIT_SIGNAL 2
#define EXIT_SIGNAL_NAME 3
#define EXIT_ERROR 4

/* FILE fields */
#define FILE_PATH 1
#define FILE_MODE 2
#define FILE_SIZE 3

/* FILE_END fields */
#define FILE_END_ERROR 1

/* OUTPUT_ISSUE fields */
#define ISSUE_REQUEST 1
#define ISSUE_PATH 2
#define ISSUE_REASON 3
#define ISSUE_MESSAGE 4

/* TIMINGS fields */
#define TIMINGS_INIT_START_NS 1
#define TIMINGS_SPEC_RECEIVED_NS 2
#define TIMINGS_COMMAND_START_NS 3
#define TIMINGS_COMMAND_END_NS 4
#define TIMINGS_OUTPUTS_END_NS 5

/* STDIN_ACK fields */
#define STDIN_ACK_BYTES 1

/* ERROR fields */
#define ERROR_STAGE 1
#define ERROR_MESSAGE 2

/* Defaults in the spirit of Bencher's output limits. */
#define DEFAULT_MAX_FILE_BYTES (25ull << 20)
#define DEFAULT_MAX_FILES 255ull
/* POWEROFF without a grace field. */
#define DEFAULT_POWEROFF_GRACE_MS 5000ull

#endif
