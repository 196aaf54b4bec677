from auditor.crypto.keystore import KeyStoreBase
from auditor.migrations._env import run

run(KeyStoreBase.metadata)
