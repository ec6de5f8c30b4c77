from promptver.cli.main import main

main()
