// Networking: CNI networks (conflists and the built-in `bridge`) and attaching namespaces to them.
export * from './cni.js';
export * from './config.js';
export * from './attach.js';
export * from './netns.js';
export * from './unshare.js';
export * from './container.js';
