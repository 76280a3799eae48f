export * from './run-main.js';
