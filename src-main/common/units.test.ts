import { describe, expect, it } from 'vitest';
import { WORDS_PER_TOKEN, aboutWords } from './units';

describe('blank lengths in words', () => {
  it('reads a length in tokens as words too, from the one ratio', () => {
    expect(WORDS_PER_TOKEN).toBe(0.75);
    expect(aboutWords(16)).toBe('about 12 words');
    expect(aboutWords(8)).toBe('about 6 words');
    expect(aboutWords(1)).toBe('about 1 word');
  });
});
