from mlpvm.cli import main

main()
