from authsvc.cli import main

main()
