/** Number formatting shared by the CLI's lines and the sweep's tables (a top-level file, so that both can import it). */

/** A fraction as mnist-dp prints it: 0.97123 → `97.12%` (`digits` decimals). */
export const percent = (p: number, digits = 2): string => `${(p * 100).toFixed(digits)}%`;
