// The action's post step: runs after the job, also after cancellation.
import { runPost } from './action/post.js';

void runPost();
