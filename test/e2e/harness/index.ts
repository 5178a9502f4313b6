export * from './util';
export * from './resp';
export * from './manifest';
export * from './kubelet';
export * from './cluster';
export * from './writer';
export * from './sentinel-watcher';
export { liveGroups } from './registry';
export * from './dns';
