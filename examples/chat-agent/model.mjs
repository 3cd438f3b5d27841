// The simulated model: canned answers (answers.json), one "tool" and tokens with a delay between
// them. Replace this file with calls to your model; agent.mjs only needs `searchDocs`, `answerFor`
// and `tokens`.

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const { answers } = JSON.parse(readFileSync(new URL('./answers.json', import.meta.url), 'utf8'));

/** The canned answer for a user's message: the first whose words all appear in it (the last has none). */
export function answerFor(text) {
  const lower = text.toLowerCase();
  return answers.find((a) => a.words.every((w) => lower.includes(w))) ?? answers[answers.length - 1];
}

/** A fake retrieval tool: what a real agent would look up before answering. */
export async function searchDocs(query, delayMs) {
  await sleep(delayMs);
  const answer = answerFor(query);
  return { results: answer.sources.map((source, i) => ({ rank: i + 1, source })) };
}

/**
 * The answer's text as a model streams it: words with the spaces after them, one every `delayMs`.
 * Joined, the tokens give back the text exactly.
 */
export async function* tokens(text, delayMs) {
  for (const token of text.match(/\S+\s*/g) ?? []) {
    if (delayMs > 0) {
      await sleep(delayMs);
    }
    yield token;
  }
}
