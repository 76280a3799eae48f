export * from './boot-checks.js';
export * from './command-line.js';
export * from './peak-rss.js';
export * from './process-identity.js';
export * from './run-main.js';
