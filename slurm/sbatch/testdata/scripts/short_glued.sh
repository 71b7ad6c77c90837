#!/bin/sh
#SBATCH -c42
#SBATCH -N2
#SBATCH -n8
#SBATCH -t1:00:00
#SBATCH -pdebug
#SBATCH -Jglued
#SBATCH -Hc4
srun hostname
