/** Types of setup-fixtures.mjs (plain JS so `npm test` can run it before anything is compiled). */
export const ROOT: string;
export const FIXTURES_DIR: string;
export const STAMP_DIR: string;
export function fixtureNames(): string[];
export function packumentSpecs(name: string): string[];
export function stampOf(name: string): string;
export function stampPath(name: string): string;
export function isPrepared(name: string): boolean;
