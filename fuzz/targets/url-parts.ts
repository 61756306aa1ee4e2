/**
 * What the URL-parser targets (flv-path, hls-path) share: the independent statement of a safe
 * name, the escaping that keeps a name one path part, names drawn from a hostile alphabet, and
 * the edits that mutate a golden URL.
 */
import type { FuzzRandom } from "../fuzz-random.js";

/** Characters of valid names: letters, digits, punctuation, dots, non-ASCII (no lone surrogates). */
const NAME_CHARS = [..."abcXYZ019-_.~!$'()*+,;=:@ %?#&[]", "é", "ü", "测", "😀", "\u00a0", "\u200b"];

/** The independent statement of what a safe app, stream or file name is. */
export function unsafeBecause(part: string): string | undefined {
  if (part.length === 0) return "is empty";
  if (part.length > 255) return `is ${part.length} characters long`;
  if (part === "." || part === "..") return `is "${part}"`;
  for (let i = 0; i < part.length; i++) {
    const code = part.charCodeAt(i);
    if (code === 0x2f || code === 0x5c) return "contains a separator";
    if (code < 0x20 || code === 0x7f) return `contains control character ${code}`;
  }
  return undefined;
}

/** Escapes only what would change how the path splits or decodes. */
export function escapePart(part: string): string {
  return part.replaceAll("%", "%25").replaceAll("/", "%2F").replaceAll("?", "%3F");
}

/** A name from the name alphabet, sometimes "." or "..", sometimes over 255 characters. */
export function fuzzName(random: FuzzRandom): string {
  if (random.chance(0.05)) return random.pick([".", "..", ""]);
  const length = random.chance(0.03) ? 250 + random.below(10) : 1 + random.below(12);
  let name = "";
  while (name.length < length) name += random.pick(NAME_CHARS);
  return name;
}

/**
 * One to four edits of `url`: insert a token from one of `tokenLists`, delete a few characters,
 * replace one with any UTF-16 unit, repeat a run of up to `maxRepeat` characters, or cut the rest.
 */
export function mutateUrl(
  random: FuzzRandom,
  url: string,
  tokenLists: readonly (readonly string[])[],
  maxRepeat: number,
): string {
  let result = url;
  for (let edit = 0, edits = 1 + random.below(4); edit < edits; edit++) {
    const at = random.below(result.length + 1);
    const choice = random.below(tokenLists.length + 4);
    if (choice < tokenLists.length) {
      result = result.slice(0, at) + random.pick(tokenLists[choice]) + result.slice(at);
      continue;
    }
    switch (choice - tokenLists.length) {
      case 0:
        result = result.slice(0, at) + result.slice(at + 1 + random.below(4));
        break;
      case 1:
        result = result.slice(0, at) + String.fromCharCode(random.below(0x10000)) + result.slice(at + 1);
        break;
      case 2:
        result =
          result.slice(0, at) +
          result.slice(at, at + random.below(maxRepeat)).repeat(2) +
          result.slice(at + 1);
        break;
      default:
        result = result.slice(0, at);
    }
  }
  return result;
}
