// Networking: CNI networks (conflists and the built-in `bridge`) and attaching namespaces to them.
export * from './cni.js';
export * from './config.js';
export * from './attach.js';
