/**
 * Wildcard match of `*` patterns without regular expressions: the literal pieces between stars are found left
 * to right (leftmost is always right for star-only patterns), so the time is bounded by text × pieces and user
 * input never builds a backtracking regex.
 */
export function compileWildcard(
  pattern: string,
  starPositions: readonly number[],
): (text: string) => boolean {
  const pieces: string[] = [];
  let last = 0;
  for (const star of starPositions) {
    pieces.push(pattern.slice(last, star));
    last = star + 1;
  }
  pieces.push(pattern.slice(last));
  const first = pieces[0]!;
  const final = pieces[pieces.length - 1]!;
  const middle = pieces.slice(1, -1).filter((piece) => piece !== '');
  const minLength = pieces.reduce((sum, piece) => sum + piece.length, 0);
  return (text) => {
    if (text.length < minLength || !text.startsWith(first) || !text.endsWith(final)) return false;
    let at = first.length;
    const end = text.length - final.length;
    for (const piece of middle) {
      const found = text.indexOf(piece, at);
      if (found < 0 || found + piece.length > end) return false;
      at = found + piece.length;
    }
    return true;
  };
}
