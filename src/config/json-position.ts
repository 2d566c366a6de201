// Where JSON text first goes wrong, as a 1-based line and column. V8's JSON.parse messages give
// a position only for some errors, so text that failed to parse is scanned again here.

const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

class Stop {
  constructor(readonly at: number) {}
}

/** Offset of the first syntax error, or text.length if the text ends too early. */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const stop = (at = i): never => {
    throw new Stop(Math.min(at, text.length));
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const expect = (word: string) => {
    for (const ch of word) if (text[i++] !== ch) stop(i - 1);
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      const c = text.charCodeAt(i);
      if (i >= text.length || c < 0x20) stop();
      if (c === 0x22) return void i++;
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[\da-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) stop(i + 2);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else stop(i + 1);
      } else i++;
    }
  };
  const num = () => {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) stop();
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') stop();
        str();
        ws();
        expect(':');
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else stop();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else stop();
      }
    }
    if (c === '"') return str();
    if (c === 't') return expect('true');
    if (c === 'f') return expect('false');
    if (c === 'n') return expect('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return num();
    stop();
  };
  try {
    value();
    ws();
    if (i < text.length) stop();
  } catch (e) {
    if (e instanceof Stop) return e.at;
    throw e;
  }
  return text.length;
}

export function jsonErrorPosition(text: string): { line: number; column: number } {
  const at = jsonErrorOffset(text);
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return { line, column: at - before.lastIndexOf('\n') };
}

/** How deep config.json may nest: far beyond any real config; deeper text would overflow the
 * stack of JSON.parse (10^5 levels do) and fail as an internal error. */
export const MAX_JSON_DEPTH = 256;

/** The offset of the first `[` or `{` that opens level limit+1, or -1 when the text nests no
 * deeper than limit (strings skipped; malformed text is left to JSON.parse). */
export function jsonTooDeep(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // a string: skip to its closing quote
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}

/** 1-based line and column of an offset. */
export function positionOf(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, at);
  return { line: before.split('\n').length, column: at - before.lastIndexOf('\n') };
}
