import { readSeedFile } from '../../lib/seed.ts';
import { SANDBOX_SEED_FILE } from '../../sandboxes/seed.ts';

/** The seed the sandboxes publish (sandboxes/seed.json), as the launcher passes it to the subgraphs in SEED_FILE. */
export { SANDBOX_SEED_FILE };
export const SANDBOX_SEED = readSeedFile(SANDBOX_SEED_FILE);
