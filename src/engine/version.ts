// The one version number: package.json's, bundled into dist/ by ncc.
import pkg from '../../package.json' with { type: 'json' };

export const VMSTEP_VERSION: string = pkg.version;
