// apt sources files for tests: the seed's one-line examples (Ubuntu mirrors, a PPA, [arch=...]
// options, disabled "# deb" lines, comments) and a Debian 12 style deb822 file.

export const seedSourcesList = [
  '',
  '',
  '# See http://help.ubuntu.com/community/UpgradeNotes for how to upgrade to',
  '# newer versions of the distribution.',
  'deb http://it.archive.ubuntu.com/ubuntu/ zesty main restricted',
  'deb-src http://it.archive.ubuntu.com/ubuntu/ zesty main restricted',
  '',
  '## Major bug fix updates produced after the final release of the',
  '## distribution.',
  'deb http://it.archive.ubuntu.com/ubuntu/ zesty-updates main restricted',
  '# deb-src http://it.archive.ubuntu.com/ubuntu/ trusty-updates main restricted',
  '',
  'deb [arch=amd64]   http://dl.google.com/linux/chrome/deb/ stable main',
  '#deb [arch=amd64] https://apt.dockerproject.org/repo ubuntu-xenial main # disabled on upgrade to yakkety',
  '# deb http://download.ebz.epson.net/dsc/op/stable/debian/ lsb3.2 main # disabled on upgrade to trusty disabled on upgrade to utopic',
  '',
].join('\n');

export const seedPpaList = [
  'deb http://ppa.launchpad.net/webupd8team/java/ubuntu zesty main',
  '# deb-src http://ppa.launchpad.net/webupd8team/java/ubuntu zesty main',
  '',
].join('\n');

export const debianSources = [
  'Types: deb deb-src',
  '# http://snapshot.debian.org/archive/debian/20250520T000000Z',
  'URIs: http://deb.debian.org/debian',
  'Suites: bookworm bookworm-updates',
  'Components: main contrib',
  'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
  '',
  '# The security archive.',
  'Types: deb',
  'URIs: http://deb.debian.org/debian-security',
  'Suites: bookworm-security',
  'Components: main',
  'Architectures: amd64 arm64',
  'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
  '',
].join('\n');
