from moodmusic.cli import main

raise SystemExit(main())
