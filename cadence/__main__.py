from cadence.cli import main

main(prog_name="cadence")
