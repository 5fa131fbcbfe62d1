from allyscale.cli import main

main(prog_name="allyscale")
