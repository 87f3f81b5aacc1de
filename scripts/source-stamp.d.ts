/** Types of source-stamp.js, for the TypeScript that reads the bundle's stamp (bench/start-measure.ts). */
export function newestMtime(dir: string): number;
