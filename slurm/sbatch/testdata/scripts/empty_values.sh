#!/bin/bash
#SBATCH --comment= --job-name=
#SBATCH --comment=#looks-like-a-comment
srun ./a.out
