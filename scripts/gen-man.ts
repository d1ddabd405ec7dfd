/** Writes the generated man pages to man/ (run by scripts/gen-man). */
import { mkdirSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import { generateManPages } from './man';

const root = resolve(__dirname, '../..');
const { version } = require(join(root, 'package.json')) as { version: string };
mkdirSync(join(root, 'man'), { recursive: true });
for (const [file, text] of generateManPages(version)) writeFileSync(join(root, 'man', file), text);
