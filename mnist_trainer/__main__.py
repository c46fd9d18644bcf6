import sys

from mnist_trainer.cli import main

sys.exit(main())
