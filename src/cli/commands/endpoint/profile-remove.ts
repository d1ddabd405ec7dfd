import { profileEditCommand } from './profile-edit';

export default profileEditCommand('remove', 'Remove profiles from the list');
