// `node --import ./register.mjs`: installs the recording resolve hook before the app is loaded.
import { register } from 'node:module';

register('./record-loads.mjs', import.meta.url);
