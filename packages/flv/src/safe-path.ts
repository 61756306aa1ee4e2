/**
 * True when `part` can be one component of a file path or a stream key without escaping its
 * directory: not empty, not "." or "..", no separators, no NUL or other control characters.
 */
export function isSafePathPart(part: string): boolean {
  if (part.length === 0 || part.length > 255 || part === "." || part === "..") return false;
  for (let i = 0; i < part.length; i++) {
    const code = part.charCodeAt(i);
    if (code < 0x20 || code === 0x2f /* / */ || code === 0x5c /* \ */ || code === 0x7f) return false;
  }
  return true;
}
