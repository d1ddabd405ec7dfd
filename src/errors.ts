/** The one error base of the project; see src/policy/errors.ts for why it is defined there. */
export { CalicoError, escapeControls, quoted } from './policy/errors';
