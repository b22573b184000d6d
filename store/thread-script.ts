import path from 'node:path';

/**
 * The compiled file a worker thread of the store runs. The tests run the TypeScript sources; a
 * thread then runs the build of the same file (npm test builds first).
 */
export function threadScript(name: string): string {
  return __filename.endsWith('.ts') ? path.resolve(__dirname, '..', 'dist', 'store', `${name}.js`) : path.join(__dirname, `${name}.js`);
}
