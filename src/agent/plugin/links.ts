// The plugin's veths are made by the same code as `calicoctl container add`'s (src/host/links.ts).
export { CONTAINER_MAC, LinkManager } from '../../host/links';
