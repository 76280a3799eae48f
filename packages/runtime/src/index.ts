export * from './peak-rss.js';
export * from './run-main.js';
