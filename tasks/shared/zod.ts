/**
 * The validation build every task uses: zod's mini build (functional checks, tree-shakable: about 30 KB
 * of a bundle instead of classic zod's ~95 KB, and ~10 ms less module init), with the English error
 * messages classic zod loads by default, so InvalidInputError keeps naming the problem
 * (`eventId: Too small: expected string to have >=1 characters`).
 *
 *   import * as z from '../shared/zod';   z.optional(z.string().check(z.minLength(1)))
 *
 * Tests and the sandbox may use classic zod; schemas from both builds compose (one zod core).
 */
import { config } from 'zod/mini';
import { en } from 'zod/v4/locales';

config(en());

export * from 'zod/mini';
