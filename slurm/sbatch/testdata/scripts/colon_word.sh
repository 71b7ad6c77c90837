#!/bin/bash
#SBATCH -N 2 :x
srun ./a.out
