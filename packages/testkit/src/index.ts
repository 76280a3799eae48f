export * from './child-process.js';
export * from './free-port.js';
export * from './nats-cluster.js';
export * from './nginx.js';
export * from './seed-store.js';
export * from './tamper-store.js';
export * from './wait.js';
export * from './whole-document.js';
