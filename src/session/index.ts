// The host side of the host-guest protocol (docs/protocol.md): what the
// engine needs to run one command in a VM's guest init.
export {
  DEFAULT_PATH,
  mergeEnv,
  resolveArgv,
  resolveUser,
  resolveWorkdir,
  runSpecFromImage,
  type CommandOverrides,
  type ImageCommandConfig,
  type CommandOptions,
} from './command.js';
export { guestSocketPath, listenForGuest, type GuestListener } from './listener.js';
export {
  validateRunSpec,
  type ExitMessage,
  type GuestTimings,
  type OutputIssue,
  type OutputIssueReason,
  type RunSpec,
  type StartedMessage,
  type VolumeMount,
} from './messages.js';
export { StdinPump } from './stdin.js';
export { DEFAULT_MAX_FILES, DEFAULT_MAX_FILE_BYTES, GUEST_VSOCK_PORT, PROTOCOL_VERSION, ProtocolError } from './protocol.js';
export {
  GuestError,
  GuestSession,
  ProtocolVersionError,
  startGuestSession,
  type GuestSessionOptions,
  type ReturnedFile,
  type SessionResult,
} from './session.js';
export { connectSession, type ExecEndpoint } from './connect.js';
export { startService, EXEC_VSOCK_PORT, type ServeSpec, type ServiceSession } from './service.js';
export {
  DEFAULT_LIST_LIMITS,
  getEntries,
  listEntries,
  putEntries,
  type EntryMeta,
  type EntryType,
  type TransferEntry,
  type TransferLimits,
} from './transfer.js';
