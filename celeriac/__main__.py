from celeriac.cli.main import main

main()
