// The usage lines of deploy and sign, apart from their code so that --help does not load it.

export const deployUsage = 'arduino-connector deploy FILE [--name N] [--id ID] [--data DIR] [--broker URL --device ID] [--key KEY] [--timeout S]';
export const signUsage = 'arduino-connector sign FILE --key KEY [--out SIG]';
