import adapter from 'comlink/dist/umd/node-adapter.js';

/**
 * comlink's adapter from a Node MessagePort/Worker to its Endpoint. The UMD build sets module.exports to
 * the function itself while its types declare a default export, so take whichever is there.
 */
export const nodeEndpoint: typeof adapter.default =
  (adapter as unknown as { default?: typeof adapter.default }).default ?? (adapter as unknown as typeof adapter.default);
