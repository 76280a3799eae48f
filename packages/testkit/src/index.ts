export * from './child-process.js';
export * from './free-port.js';
export * from './wait.js';
