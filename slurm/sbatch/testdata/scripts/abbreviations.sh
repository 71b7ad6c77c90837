#!/bin/bash
#SBATCH --parti=debug --job=abbrev --ntasks-per-n=4 --cpus-per-t=2
#SBATCH --mem-per-c=1G --mail-t=ALL --exclus --dep=singleton
#SBATCH --tasks-per=4
srun ./a.out
