export { checkDirectorySetting, listenError } from './boot-checks.js';
export { packageVersion, usage } from './command-line.js';
export { peakRssBytes } from './peak-rss.js';
export { isRunning, type ProcessIdentity, processIdentity } from './process-identity.js';
export {
  BootError,
  EXIT_BOOT_FAILURE,
  EXIT_FAILURE,
  type RunMainOptions,
  runMain,
  type Service,
} from './run-main.js';
