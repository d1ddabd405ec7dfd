import { profileEditCommand } from './profile-edit';

export default profileEditCommand('append', 'Add profiles at the end of the list');
