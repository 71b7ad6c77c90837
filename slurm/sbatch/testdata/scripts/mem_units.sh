#!/bin/bash
#SBATCH --mem=1025K
srun ./a.out
