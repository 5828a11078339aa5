import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The spool segment files in `dir`. */
export const spoolFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.spool'));

/** Every line of every spool segment in `dir`. */
export const spoolLines = (dir: string) => spoolFiles(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
