import { profileEditCommand } from './profile-edit';

export default profileEditCommand('set', 'Replace the whole list (none: remove them all)');
