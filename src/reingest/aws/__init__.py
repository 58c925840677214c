"""The AWS deployment's faces: Lambda handlers (``lambdas``) and the self-stopping schedule
(``schedule``). See ``deploy/README.md``."""
