/** Small wording helpers shared by the editor's views. */

/** "1 blank", "2 blanks". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
